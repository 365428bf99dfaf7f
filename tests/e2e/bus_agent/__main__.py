from tests.e2e.bus_agent.app import app

if __name__ == "__main__":
    app.main()
