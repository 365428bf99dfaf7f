from services.alerts.processor.app import app

if __name__ == "__main__":
    app.main()
